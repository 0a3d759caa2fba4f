"""Domain: who may see and do what, events and their chain, the ports adapters implement."""
