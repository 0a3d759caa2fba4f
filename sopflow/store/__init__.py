"""Persistence on SQLModel/SQLAlchemy: tables, migrations, the unit of work, documents."""
