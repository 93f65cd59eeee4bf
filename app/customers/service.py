"""Customers as they are stored in SQL."""

from sqlalchemy import Engine, func, or_, select

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

    def holding(self, phone: str | None, email: str | None) -> list[tuple[str | None, str | None]]:
        """(phone, email) of every customer who has this phone or this email (in any case)."""
        conditions = []
        if phone:
            conditions.append(customers.c.phone == phone)
        if email:
            conditions.append(func.lower(customers.c.email) == email.lower())
        if not conditions:
            return []
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(customers.c.phone, customers.c.email).where(or_(*conditions))
            ).all()
        return [(phone, email) for phone, email in rows]
