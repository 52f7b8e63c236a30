"""HTTP API and SSE event stream: the Attractor server mode plus approvals, deploys and stop."""
