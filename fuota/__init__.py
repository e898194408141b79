"""fuota: orchestrator for LoRaWAN FUOTA campaigns."""
