"""What sign-in accepts: the one phone or email the code goes to."""

from marshmallow import ValidationError, validates_schema

from app.contacts import ContactSchema
from app.identity import EMAIL, PHONE

_OTHER_FIELDS = {PHONE: ("email",), EMAIL: ("phone", "country_code", "country_key")}


class LoginStartSchema(ContactSchema):
    """Who is signing in: a phone (with its country) or an email, and where the code goes."""

    @validates_schema(skip_on_field_errors=False, pass_original=True)
    def only_the_verified_identity_is_given(self, data, original, **kwargs):
        """A sign-in names one identifier, so that a client cannot believe the other was checked."""
        verified_by = data.get("verified_by")
        given = [name for name in _OTHER_FIELDS.get(verified_by, ()) if original.get(name) is not None]
        if given:
            raise ValidationError({name: [f"Not used when verified_by is {verified_by}."] for name in given})
