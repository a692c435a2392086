"""The controller: turns events into decisions and commands, and sequences the flow."""
