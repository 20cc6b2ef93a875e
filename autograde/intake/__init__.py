"""What students hand in: submitted folders and LMS zips, staged for nbgrader and read without following a link."""
