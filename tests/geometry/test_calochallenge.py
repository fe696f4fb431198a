"""CaloChallenge binnings: the built-in ones and a user's own XML file."""

import pytest

from hepgan.errors import GeometryError
from hepgan.geometry import get_geometry


def test_a_users_binning_file_is_a_geometry_named_by_its_path(tmp_path):
    xml = tmp_path / "mine.xml"
    xml.write_text('<Bins><Particle name="electron">'
                   '<Layer id="0" r_edges="0,5,10,20" n_bin_alpha="4"/>'
                   '<Layer id="1" r_edges="0" n_bin_alpha="1"/>'
                   '<Layer id="2" r_edges="0,10,30" n_bin_alpha="1"/>'
                   '</Particle></Bins>')
    geometry = get_geometry(str(xml))
    assert geometry.name == str(xml) and geometry.layer_sizes == (12, 2)  # the empty layer has no voxels
    assert get_geometry(str(xml)) is geometry
    with pytest.raises(GeometryError, match="does not exist"):
        get_geometry(str(tmp_path / "missing.xml"))
