"""Gateways: whatever arrives (MQTT device uplinks, network-server events,
LoRaWAN frames, HTTP callbacks) becomes canonical readings, or a dead letter
with a reason."""
