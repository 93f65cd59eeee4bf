"""Customers as they are stored in SQL."""

from sqlalchemy import Engine, func, or_, select

from app.identity import PHONE
from app.models import Customer, customers


class CustomerDirectory:
    """Looks customers up; accounts are created by the flows that verify them."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def get(self, customer_id: str) -> Customer | None:
        """The customer with this id, if there is one."""
        with self.engine.connect() as connection:
            row = connection.execute(select(customers).where(customers.c.id == customer_id)).one_or_none()
        return None if row is None else Customer(**row._mapping)

    def verified_holder(self, channel: str, address: str) -> str | None:
        """The id of the customer who has verified this phone or email, if one has.

        Only a verified phone or email is unique, and only it may receive a sign-in code.
        """
        if channel == PHONE:
            condition = (customers.c.phone == address) & customers.c.phone_verified
        else:
            condition = (func.lower(customers.c.email) == address.lower()) & customers.c.email_verified
        with self.engine.connect() as connection:
            return connection.execute(select(customers.c.id).where(condition)).scalar_one_or_none()

    def verified_holders(self, phone: str | None, email: str | None) -> tuple[bool, bool]:
        """Whether some customer has verified this phone, and whether one has verified this email."""
        conditions = []
        if phone:
            conditions.append((customers.c.phone == phone) & customers.c.phone_verified)
        if email:
            conditions.append((func.lower(customers.c.email) == email.lower()) & customers.c.email_verified)
        if not conditions:
            return False, False
        query = select(
            customers.c.phone, customers.c.phone_verified, customers.c.email, customers.c.email_verified
        )
        with self.engine.connect() as connection:
            rows = connection.execute(query.where(or_(*conditions))).all()
        phone_taken = any(row.phone_verified and row.phone == phone for row in rows)
        email_taken = any(
            row.email_verified and (row.email or "").lower() == (email or "").lower() for row in rows
        )
        return phone_taken, email_taken
