"""Registry alias: promote a version to an alias, or roll an alias back, with an audit trail."""
