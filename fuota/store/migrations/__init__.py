"""fuota's Alembic environment; a package so that the migrations ship in the wheel. See env.py."""
