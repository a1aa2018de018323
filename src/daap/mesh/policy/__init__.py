"""The control plane: who the principals are (identities, tokens) and what each may do."""
