"""Email: composed from templates, recorded in the outbox with what causes it, sent by a job."""
