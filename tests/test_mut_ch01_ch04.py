"""Tests written against surviving mutants (tools/mutate.sh); filled in below."""
