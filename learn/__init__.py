"""The learning loop, the stage after compare: material from the consented chats and feedback since the live
version (material.py), a candidate trained from live in a sandbox (evolve.py), and the gate that verifies it
against live before a person approves it (gate.py, with the core's adversarial probes: probes.py). The registry and
its audit log, which every step writes through, are core contracts (clonekit/registry.py, clonekit/audit.py)."""
