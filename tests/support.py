"""Payloads and small helpers the tests share."""

PHONE = "+966551234567"
MASKED_PHONE = "+966 55••••567"


def phone_registration(**fields) -> dict:
    """A valid registration verified by SMS to a Saudi mobile number."""
    return {
        "first_name": "Sara",
        "last_name": "Al-Qahtani",
        "phone": "0551234567",
        "country_code": "SA",
        "country_key": "+966",
        "verified_by": "phone",
        **fields,
    }


def email_registration(**fields) -> dict:
    """A valid registration verified by email."""
    return {"first_name": "Omar", "email": "omar@example.com", "verified_by": "email", **fields}


def start(client, payload: dict, **kwargs):
    response = client.post("/auth/register", json=payload, **kwargs)
    assert response.status_code == 202, response.get_json()
    return response.get_json()


def verify(client, registration_id: str, code: str):
    return client.post(f"/auth/register/{registration_id}/verify", json={"code": code})


def wrong(code: str) -> str:
    """A code of the same length that is certainly not `code`."""
    return "".join(str((int(digit) + 1) % 10) for digit in code)
