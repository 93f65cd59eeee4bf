"""What the OpenAPI document says of answers several resources share."""

from flask_smorest import Blueprint

from app.schemas import ErrorResponseSchema

RETRY_AFTER = {
    "Retry-After": {"description": "Seconds to wait (with `retry_after`)", "schema": {"type": "integer"}}
}
IDEMPOTENCY_KEY = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "description": "The same key and body within 24 h get the first answer again, and nothing is sent.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}


def location(what: str) -> dict:
    """The `Location` header of a 202 that points at `what`."""
    return {"Location": {"description": f"Where the {what}'s status is", "schema": {"type": "string"}}}


def document_errors(blp: Blueprint, statuses: dict[int, str], **extra):
    """Document the error answers of a view in one decorator (each alt_response wraps the view).
    429 answers document their Retry-After header."""
    error = {"application/json": {"schema": ErrorResponseSchema}}
    responses = {
        status: {
            "description": description,
            "content": error,
            **({"headers": RETRY_AFTER} if status == 429 else {}),
        }
        for status, description in statuses.items()
    }
    return blp.doc(responses=responses, **extra)
