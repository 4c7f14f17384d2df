"""Dev-only local stack; never deployed, never imported by shared/."""
