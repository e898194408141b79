"""Back-end adapters: the network servers fuota drives (IoTSquare over HTTP, Milesight over MQTT)."""
