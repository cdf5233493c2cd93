"""The hosted signup page (public): one page per plan."""
