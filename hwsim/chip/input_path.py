"""The input path's configuration (hwsim.kernels.input_path runs it): how many cycles a
sample takes to load onto the chip, and whether the next one loads while this one is
presented (double buffering)."""


def input_path_config(chip, layout) -> dict:
    return {"load_cycles": chip.input.load_cycles(layout.sizes[0]),
            "double_buffer": int(chip.input.double_buffering)}
