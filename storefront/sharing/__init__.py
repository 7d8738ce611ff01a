"""A cart shared by two accounts: the owner invites by a single-use link, one other account
accepts, both then change the one cart and see each other's changes live, named."""
