"""Real servers for tests: PostgreSQL, Apache Kafka, and the distributed runtime over them."""
