"""Game-agnostic networking: protocol, connection, transport, sessions, prediction, interpolation."""
