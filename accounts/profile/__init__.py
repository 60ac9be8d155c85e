"""Flexible profile attributes and progressive profiling (issue 6, part 1).

Staff define attributes (:class:`accounts.models.AttributeDefinition`); members' values live in
one ``jsonb`` document per member (:class:`accounts.models.MemberAttributes`). Values reach
relying parties as claims under the attribute's scope, through the API, and are asked for one
at a time at sign-in. See docs/profile-attributes.md.
"""
