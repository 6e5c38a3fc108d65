"""Settings from outside a file (API arguments, --set model.*) are checked like file entries."""

import pytest

from genodsl import loads
from genodsl.errors import ConfigError
from genodsl.lang.override import place

TEXT = """
import "ops.geno"
genotype G {
  cell down { input s0, s1  node n2 = down_conv(s0) + max_pool(s1)  output concat(n2) }
  cell up { input s0, s1  node n2 = identity(s0) + up_conv(s1)  output concat(n2) }
}
genotype H {
  cell down { input s0, s1  node n2 = avg_pool(s0) + max_pool(s1)  output concat(n2) }
  cell up { input s0, s1  node n2 = conv(s0) + up_conv(s1)  output concat(n2) }
}
network net { cells = G  C = 4  depth = 2 }
"""


def test_place_overrides_and_keeps_only_what_the_network_needs():
    program = loads(TEXT)
    part = place(program, "H", "net", {"C": 4, "depth": 2}, {"classes": 3, "C": None})
    settings = part.networks["net"].settings
    assert (settings.cells, settings.C, settings.depth, settings.classes) == ("H", 4, 2, 3)
    assert set(part.genotypes) == {"H"} and not part.spaces


@pytest.mark.parametrize("changes, expected", [
    ({"C": 100_000}, "E062"),          # the documented limit, not a 160 GB allocation
    ({"depth": 0}, "network.depth"),   # the language's own value rules
    ({"Cc": 3}, "did you mean 'C'"),   # a typo'd key
])
def test_bad_overrides_are_one_clear_error(changes, expected):
    with pytest.raises(ConfigError, match=expected):
        place(loads(TEXT), "G", "net", {}, changes)


def test_unknown_cells_name_a_genotype():
    with pytest.raises(ConfigError, match="did you mean 'G'"):
        place(loads(TEXT), "GG", "net")


def test_build_checks_the_limits_of_a_program_made_by_hand():
    import dataclasses

    from genodsl import build
    from genodsl.errors import GenoValidationError

    program = loads(TEXT)
    net = program.networks["net"]
    huge = net.settings.model_copy(update={"C": 100_000})  # skips validation on purpose
    program.networks["net"] = dataclasses.replace(net, settings=huge)
    with pytest.raises(GenoValidationError, match="E062"):
        build(program, "net")


def test_the_top_files_own_network_is_the_default(tmp_path):
    from genodsl import load

    mine = tmp_path / "mine.geno"
    mine.write_text('import "nasunet.geno"\nnetwork mine { cells = NASUNET  C = 4  depth = 2 }\n',
                    encoding="utf-8")
    program = load(mine)
    assert len(program.networks) > 1                # nasunet.geno brings its own networks
    assert program.network().name == "mine"
