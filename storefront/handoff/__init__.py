"""Handoff: a guest continues their cart on another device by a QR code or a short code."""
