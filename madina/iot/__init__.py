"""Device gateway compatible with the FIWARE IoT Agents (UltraLight 2.0 and JSON payloads)."""
