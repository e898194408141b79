"""Planning before sending: regional parameters, air time, the forecast and the decoding Monte Carlo."""
