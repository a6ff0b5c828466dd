"""Alert lifecycle, routing, escalation and delivery: findings → people."""
