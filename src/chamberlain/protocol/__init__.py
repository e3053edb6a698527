"""AWS wire formats: query-form decoding, XML/JSON serialization, SigV4 field extraction."""
