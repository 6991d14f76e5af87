"""Local fake servers that speak each platform's wire format and record what they receive."""
