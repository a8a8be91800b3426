"""The mesh on Kubernetes, on paper: manifests rendered from the topology and checked
against the schemas, never applied here."""
