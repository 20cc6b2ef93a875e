"""Development data, not grading: the sample class, the answer bank, the submission builder."""
