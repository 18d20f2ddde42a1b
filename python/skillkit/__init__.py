"""Hand-written support for generated skillset tests: tiny offline models, references,
comparison, the test harness and the long-lived worker of run-tests."""
