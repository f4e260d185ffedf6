"""The demo city: central Helsinki from OpenStreetMap, a recorded day of SUMO traffic, sensor
generators and scripted events, replayed into Madina through its public interfaces only (IoT
provisioning and MQTT device payloads, Open311 over HTTP, NGSI-LD for static things)."""
