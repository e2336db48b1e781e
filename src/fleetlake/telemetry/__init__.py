"""Vehicle telemetry: provider payloads → canonical records → bronze → silver → gold."""
