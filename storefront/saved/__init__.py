"""Saved for later: lines moved out of the cart, kept with it, and moved back."""
