"""A search cell names its own nodes n2, n3, ...: an input with one of those names is an error,
not silently replaced by the node (hypothesis found the clash)."""

import pytest

from genodsl import loads
from genodsl.errors import GenoValidationError

SPACE = """
import "ops.geno"
space S {
  cell down { input %s, s1  nodes 2  from %s use Down  from s1 use Down  from nodes use Normal }
  cell up { input s0, s1  nodes 2  from s0 use Normal  from s1 use Up  from nodes use Normal }
}
"""


def test_an_input_named_like_a_node_is_one_clear_error():
    with pytest.raises(GenoValidationError) as err:
        loads(SPACE % ("n2", "n2"))
    codes = [d.code for d in err.value.diagnostics]
    assert codes == ["E021"], codes
    assert "has the name of this search cell's node n2" in str(err.value)


def test_other_input_names_are_fine():
    program = loads(SPACE % ("skip", "skip"))
    assert program.spaces["S"].cells
