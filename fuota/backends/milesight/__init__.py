"""Everything fuota knows of Milesight gateways' ns-api over MQTT (../shared/specs/milesight-mqtt-api.txt)."""
