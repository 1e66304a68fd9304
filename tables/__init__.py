"""Tables, shards and placements (issue 4). Not built yet: the navigation marks it as planned."""
