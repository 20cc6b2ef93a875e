"""Running submissions: the coordinator and its journal, one notebook's run, the fork server, the sandbox."""
