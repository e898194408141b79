"""Planning before sending: regional parameters, air time, pacing and the duty cycle, the forecast, and the decoding
Monte Carlo with the redundancy each trial needs."""
