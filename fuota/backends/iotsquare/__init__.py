"""Everything fuota knows of RisingHF IoTSquare's OpenAPI (../shared/specs/iotsquare-openapi.md)."""
