from hepgan.data.showers import MAX_CHUNK_VALUES, chunk_rows


def test_chunks_hold_at_most_the_requested_showers_and_a_bounded_number_of_cells():
    assert chunk_rows(10_000, 368) == 10_000  # dataset 1: the request fits
    rows = chunk_rows(10_000, 40_500)  # dataset 3: 10,000 showers would be 1.6 GB of float32
    assert rows == MAX_CHUNK_VALUES // 40_500 == 828
    assert chunk_rows(10_000, 10 * MAX_CHUNK_VALUES) == 1  # never zero rows
