"""What the tests share, each helper once."""
