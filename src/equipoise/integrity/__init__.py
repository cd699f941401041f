"""The record's integrity: ``audit verify`` (the hash chain, every record against its history, every allocation
replayed), the server's scheduled verification, and encrypted backups that are checked and restored."""
