"""`musclekit plot` groups the muscles of OpenSim's Gait2392 family as well as Rajagopal's."""

from musclekit.pipelines.simulate.dynamics.stage.plot import muscle_groups

GAIT2392_RIGHT = (
    "glut_med1_r glut_med2_r glut_med3_r glut_min1_r glut_min2_r glut_min3_r semimem_r "
    "semiten_r bifemlh_r bifemsh_r sar_r add_long_r add_brev_r add_mag1_r add_mag2_r "
    "add_mag3_r tfl_r pect_r grac_r glut_max1_r glut_max2_r glut_max3_r iliacus_r psoas_r "
    "quad_fem_r gem_r peri_r rect_fem_r vas_med_r vas_int_r vas_lat_r med_gas_r lat_gas_r "
    "soleus_r tib_post_r flex_dig_r flex_hal_r tib_ant_r per_brev_r per_long_r per_tert_r "
    "ext_dig_r ext_hal_r").split()


def test_gait2392_muscles_are_grouped():
    groups = muscle_groups(GAIT2392_RIGHT + [m[:-1] + "l" for m in GAIT2392_RIGHT])
    assert set(groups["hip extensors"]) >= {"glut_max1_r", "bifemlh_l", "semimem_r"}
    assert "rect_fem_r" in groups["knee extensors"] and "vas_lat_l" in groups["knee extensors"]
    assert {"med_gas_r", "soleus_l"} <= set(groups["plantarflexors"])
    assert {"tib_ant_r", "ext_dig_l"} <= set(groups["dorsiflexors"])
    assert {"glut_med2_r", "peri_l"} <= set(groups["hip abductors"])
    # only the small hip rotators stay ungrouped
    assert sorted(groups["other"]) == ["gem_l", "gem_r", "quad_fem_l", "quad_fem_r"]


def test_rajagopal_names_are_grouped_as_before():
    groups = muscle_groups(["glmax1_r", "recfem_l", "gasmed_r", "tibant_l", "addmagIsch_r"])
    assert groups["hip extensors"] == ["glmax1_r", "addmagIsch_r"]
    assert "other" not in groups
