"""The scenario spec (``kind: scenario``): the workload (data set, network, cost, target,
budget) and which chip and firmware run it.

One of the three kind modules split out of ``hwsim.spec.models`` (which re-exports every model:
import from there). Pure schema: the network layout a scenario implies is built outside, by
``hwsim.network.layout.scenario_layout``.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import Field, model_validator

from hwsim.spec.base import F, Name, Spec
from hwsim.spec.units import Fraction


class _Dataset(Spec):
    """What the checks of a scenario need to know of a data set, as class attributes beside its
    ``shape`` (the union of data sets discriminates on ``name``; the loader reads these)."""

    #: A regression (scored by r2), not a classification.
    REGRESSION: ClassVar[bool] = False
    #: One output (scored by threshold; argmax and cross_entropy need two or more).
    SINGLE_OUTPUT: ClassVar[bool] = False
    #: What its inputs and outputs are, in words ("64 pixels", "10 classes").
    INPUTS_ARE: ClassVar[str] = "inputs"
    OUTPUTS_ARE: ClassVar[str] = "classes"


class DigitsData(_Dataset):
    """scikit-learn's 8x8 handwritten digits: 64 inputs, 10 classes."""

    INPUTS_ARE = "pixels"

    name: Literal["digits"] = F(
        "digits", unit="-", doc="scikit-learn's 8x8 handwritten digits (1,797 images, 64 inputs, 10 classes).")
    test_fraction: Fraction = F(0.2, unit="fraction", gt=0.0, lt=1.0,
                                doc="Share of samples held out for testing (seeded split); 0.2 or '20 %'.")

    @property
    def shape(self) -> tuple[int, int]:
        return 64, 10

    @property
    def image_shape(self) -> tuple[int, int, int] | None:
        return 1, 8, 8


class ParityData(_Dataset):
    """All 2^n binary vectors labelled with their parity: n inputs, one output."""

    SINGLE_OUTPUT = True
    INPUTS_ARE, OUTPUTS_ARE = "bits", "output"

    name: Literal["parity"] = F("parity", unit="-", doc="All 2^n binary vectors labelled with their parity.")
    n_bits: int = F(2, unit="bits", ge=1, le=16, doc="Number of input bits n (n = 2 is XOR).")

    @property
    def shape(self) -> tuple[int, int]:
        return self.n_bits, 1

    @property
    def image_shape(self) -> tuple[int, int, int] | None:
        return None


class TeacherData(_Dataset):
    """Synthetic teacher-student regression."""

    REGRESSION = True
    OUTPUTS_ARE = "outputs"

    name: Literal["teacher"] = F("teacher", unit="-", doc="Synthetic teacher-student regression: "
                                                          "targets from a fixed random tanh network.")
    n_samples: int = F(1024, unit="samples", ge=2, le=10**7, doc="Number of samples generated.")
    n_inputs: int = F(8, unit="inputs", ge=1, le=10**5, doc="Input dimension.")
    n_outputs: int = F(2, unit="outputs", ge=1, le=10**4, doc="Output dimension.")
    teacher_hidden: int = F(16, unit="neurons", ge=1, le=10**4, doc="Hidden width of the teacher.")
    noise_sigma: float = F(0.0, unit="target units", ge=0.0, le=1e6,
                           doc="Standard deviation of Gaussian noise added to the targets.")
    test_fraction: Fraction = F(0.2, unit="fraction", gt=0.0, lt=1.0,
                                doc="Share of samples held out for testing (seeded split); 0.2 or '20 %'.")

    @property
    def shape(self) -> tuple[int, int]:
        return self.n_inputs, self.n_outputs

    @property
    def image_shape(self) -> tuple[int, int, int] | None:
        return None


class Mnist1dData(_Dataset):
    """MNIST-1D, generated locally by the mnist1d package: 40 inputs, 10 classes."""

    INPUTS_ARE = "values"

    name: Literal["mnist1d"] = F(
        "mnist1d", unit="-",
        doc="MNIST-1D (Greydanus 2020): ten 1-D digit templates padded, scaled, translated, sheared "
            "and noised into signals of 40 values; generated locally by the mnist1d package, never "
            "downloaded.")
    n_samples: int = F(5000, unit="samples", ge=20, le=10**6,
                       doc="Samples generated, n/10 per class (mnist1d's num_samples; a multiple of "
                           "10; the default 5000 gives 4000 training and 1000 test samples).")
    test_fraction: Fraction = F(0.2, unit="fraction", gt=0.0, lt=1.0,
                                doc="Share of the samples held out for testing (mnist1d's 1 - "
                                    "train_split); 0.2 or '20 %'.")
    generator_seed: int | None = F(
        None, unit="-", ge=0, le=2**32 - 1,
        doc="Seed of the generator; null derives it from the run seed (each run seed draws its "
            "own data set); 42 is mnist1d's default, its reference data set.")

    @model_validator(mode="after")
    def _split(self):
        if self.n_samples % 10:
            raise ValueError(f"n_samples must be a multiple of 10, the same number per class (got "
                             f"{self.n_samples}; expected {self.n_samples - self.n_samples % 10} or "
                             f"{self.n_samples - self.n_samples % 10 + 10})")
        n_train = int(self.n_samples * (1.0 - self.test_fraction))
        if not 1 <= n_train < self.n_samples:
            raise ValueError(f"test_fraction leaves no {'training' if n_train < 1 else 'test'} samples "
                             f"(got test_fraction={self.test_fraction} of n_samples={self.n_samples}; "
                             "expected at least one of each)")
        return self

    @property
    def shape(self) -> tuple[int, int]:
        return 40, 10

    @property
    def image_shape(self) -> tuple[int, int, int] | None:
        return 1, 1, 40


class _ImageFilesData(_Dataset):
    """Fields shared by the data sets read from local files (docs/data.md); each names its
    image shape (C, H, W), and all have ten classes."""

    IMAGE: ClassVar[tuple[int, int, int]]

    name: str = F(..., unit="-", doc="The data set.")
    data_dir: str | None = F(
        None, unit="-", min_length=1, max_length=4096,
        doc="Folder that holds the data sets' folders (mnist/, fashion_mnist/, "
            "cifar-10-batches-py/; docs/data.md); null = $HWSIM_DATA, else ./data. hwsim run and "
            "compare --data-dir set it. Relative to the working directory. Nothing is downloaded.")
    n_train: int | None = F(
        None, unit="samples", ge=1, le=10**7,
        doc="Train on only the first n training images (quick runs); null = all of them.")
    n_test: int | None = F(
        None, unit="samples", ge=1, le=10**7,
        doc="Measure test accuracy on only the first n images of the validation set; null = all.")
    validation: Literal["test", "last_1000_train"] = F(
        "test", unit="-",
        doc="What test accuracy is measured on: test (the official test set) or last_1000_train "
            "(the last 1000 training images, left out of training, as in the MGD paper).")

    @property
    def shape(self) -> tuple[int, int]:
        c, h, w = self.IMAGE
        return c * h * w, 10

    @property
    def image_shape(self) -> tuple[int, int, int] | None:
        return self.IMAGE


class MnistData(_ImageFilesData):
    """MNIST handwritten digits from local IDX files: 784 inputs, 10 classes."""

    INPUTS_ARE = "pixels"

    name: Literal["mnist"] = F(
        "mnist", unit="-",
        doc="MNIST handwritten digits, 28x28 grey pixels scaled to [0, 1], 60,000 training and "
            "10,000 test images, read from local IDX files in <data_dir>/mnist/.")

    IMAGE = (1, 28, 28)


class FashionMnistData(_ImageFilesData):
    """Fashion-MNIST clothing images from local IDX files: 784 inputs, 10 classes."""

    INPUTS_ARE = "pixels"

    name: Literal["fashion_mnist"] = F(
        "fashion_mnist", unit="-",
        doc="Fashion-MNIST (Zalando) clothing images, 28x28 grey pixels scaled to [0, 1], 60,000 "
            "training and 10,000 test images, read from local IDX files in <data_dir>/fashion_mnist/.")

    IMAGE = (1, 28, 28)


class Cifar10Data(_ImageFilesData):
    """CIFAR-10 colour images from the local python batches: 3072 inputs, 10 classes."""

    INPUTS_ARE = "values (32x32 pixels x 3 colours)"

    name: Literal["cifar10"] = F(
        "cifar10", unit="-",
        doc="CIFAR-10, 32x32 colour images (3 channels, inputs in channel-major order), values "
            "scaled to [0, 1], 50,000 training and 10,000 test images, read from the python "
            "batches in <data_dir>/cifar-10-batches-py/.")

    IMAGE = (3, 32, 32)


DatasetSpec = Annotated[Union[DigitsData, ParityData, TeacherData, Mnist1dData, MnistData,
                              FashionMnistData, Cifar10Data], Field(discriminator="name")]
DATASETS = {"digits": DigitsData, "parity": ParityData, "teacher": TeacherData, "mnist1d": Mnist1dData,
            "mnist": MnistData, "fashion_mnist": FashionMnistData, "cifar10": Cifar10Data}


class InitSpec(Spec):
    """Initial weights."""

    distribution: Literal["uniform", "normal", "glorot_uniform"] = F(
        "glorot_uniform", unit="-", doc="Distribution of the initial weights and biases.")
    low: float = F(-0.5, unit="weight units", ge=-1e6, le=1e6, doc="uniform only: lower bound.")
    high: float = F(0.5, unit="weight units", ge=-1e6, le=1e6, doc="uniform only: upper bound.")
    std: float = F(0.1, unit="weight units", gt=0.0, le=1e6, doc="normal only: standard deviation.")
    bias_low: float | None = F(
        None, unit="weight units", ge=-1e6, le=1e6,
        doc="uniform only: lower bound for the biases; null uses `low`. (The MGD reference code "
            "subtracts its biases, so its U[0, 1] biases are U[-1, 0] here.)")
    bias_high: float | None = F(None, unit="weight units", ge=-1e6, le=1e6,
                                doc="uniform only: upper bound for the biases; null uses `high`.")

    @model_validator(mode="after")
    def _bounds(self):
        if self.distribution == "uniform" and not self.low < self.high:
            raise ValueError(f"empty range (got low={self.low}, high={self.high}; expected low < high)")
        lo = self.low if self.bias_low is None else self.bias_low
        hi = self.high if self.bias_high is None else self.bias_high
        if self.distribution == "uniform" and not lo < hi:
            raise ValueError(f"empty bias range (got bias_low={lo}, bias_high={hi}; expected bias_low < bias_high)")
        return self


ActivationName = Literal["sigmoid", "tanh", "relu", "linear"]


class DenseLayer(Spec):
    """A fully connected layer: one MVM of an n_out x n_in array per inference."""

    type: Literal["dense"] = F("dense", unit="-", doc="A fully connected layer.")
    units: int | None = F(None, unit="neurons", ge=1, le=100_000,
                          doc="Outputs; null only for the last layer, which takes the data set's outputs.")
    activation: ActivationName | None = F(
        None, unit="-", doc="Activation; null uses network.activation (network.output_activation "
                            "for the last layer).")


class ConvLayer(Spec):
    """A k x k convolution, stride 1, no padding: its kernel is one C_out x (C_in k k) array,
    applied as one MVM per output position."""

    type: Literal["conv"] = F("conv", unit="-", doc="A 2-D convolution (stride 1, no padding).")
    channels: int = F(..., unit="channels", ge=1, le=4096, doc="Output channels C_out.")
    kernel: int = F(3, unit="pixels", ge=1, le=15, doc="Kernel size k (k x k).")
    activation: ActivationName | None = F(None, unit="-",
                                          doc="Activation; null uses network.activation.")


class MaxPoolLayer(Spec):
    """Maximum over non-overlapping size x size windows (floor mode), in the digital periphery."""

    type: Literal["maxpool"] = F("maxpool", unit="-", doc="Max-pooling (stride = window).")
    size: int = F(2, unit="pixels", ge=1, le=16, doc="Window size (size x size).")


class FlattenLayer(Spec):
    """Marks where an image becomes a vector (activities are flat on the chip: no operation)."""

    type: Literal["flatten"] = F("flatten", unit="-", doc="Image to vector (no operation).")


LayerSpec = Annotated[Union[DenseLayer, ConvLayer, MaxPoolLayer, FlattenLayer], Field(discriminator="type")]


class NetworkSpec(Spec):
    """The network on the chip."""

    hidden: list[Annotated[int, Field(ge=1, le=100_000)]] = F(
        default_factory=lambda: [32], unit="neurons", max_length=64,
        doc="Widths of the hidden layers (an empty list is a single-layer network).")
    inputs: int | None = F(
        None, unit="neurons", ge=1, le=10**5,
        doc="Width of the input layer; null takes it from the data set, a number is checked "
            "against the data set.")
    outputs: int | None = F(
        None, unit="neurons", ge=1, le=10**4,
        doc="Width of the output layer; null takes it from the data set (classes or targets), a "
            "number is checked against it.")
    activation: Literal["sigmoid", "tanh", "relu"] = F(
        "sigmoid", unit="-", doc="Activation of every hidden neuron.")
    output_activation: Literal["linear", "sigmoid"] = F(
        "linear", unit="-", doc="Activation of the output neurons (cross_entropy applies softmax itself).")
    init: InitSpec = F(default_factory=InitSpec, unit="-", doc="Initial weights.")
    layers: list[LayerSpec] | None = F(
        None, unit="-", max_length=64,
        doc="An explicit stack of layers after the input (conv, maxpool, flatten, dense), ending "
            "with a dense output layer; replaces `hidden`. Conv layers need an image data set.")

    @model_validator(mode="after")
    def _stack(self):
        if self.layers is None:
            return self
        if not self.layers or self.layers[-1].type != "dense":
            raise ValueError("`layers` must end with a dense output layer (type: dense)")
        if self.layers[0].type not in ("dense", "conv"):
            raise ValueError("`layers` must start with a dense or conv layer (the first layer "
                             "holds weights)")
        for i, layer in enumerate(self.layers[:-1]):
            if layer.type == "dense" and layer.units is None:
                raise ValueError(f"layers[{i}]: a hidden dense layer needs `units`")
        return self


class ObservationSpec(Spec):
    """How the observer measures the chip (it consumes no chip time)."""

    read_noise: bool = F(
        True, unit="-",
        doc="Measure test accuracy with the devices' read noise (one read of the array per "
            "observation); false reads the drifted weights without noise.")
    ideal_accuracy: bool = F(
        False, unit="-",
        doc="Also record the accuracy of the stored weights on an ideal datapath (exact "
            "converters, no read noise, drift or neuron variation), for comparison.")


class ScenarioSpec(Spec):
    """The workload: data set, network, cost, target, budget, and which chip and firmware."""

    kind: Literal["scenario"] = F("scenario", unit="-", doc="Marks this file as a scenario spec.")
    name: Name = F("unnamed_scenario", unit="-", doc="Short identifier of the scenario.",
                  min_length=1, max_length=200)
    description: str = F("", unit="-", doc="The question this scenario asks.", max_length=2000)
    chip: str = F("ideal_digital", unit="-", min_length=1,
                  doc="Chip preset name (in chips/) or path to a chip YAML.")
    firmware: str = F("mgd_discrete", unit="-", min_length=1,
                      doc="Firmware preset name (in firmware_models/) or path to a firmware YAML.")
    overrides: dict[str, Any] = F(
        default_factory=dict, unit="-",
        doc="Dotted paths set on the resolved specs, e.g. {'firmware.eta': 0.5}; applied before "
            "validation (the resolved chip and firmware already contain them).")
    dataset: DatasetSpec = F(default_factory=DigitsData, unit="-", doc="The training and test data.")
    network: NetworkSpec = F(default_factory=NetworkSpec, unit="-", doc="The network on the chip.")
    cost: Literal["mse", "cross_entropy"] = F(
        "mse", unit="-",
        doc="mse: mean over outputs of (y - target)^2 on one-hot targets; cross_entropy: softmax "
            "cross-entropy.")
    accuracy: Literal["argmax", "threshold", "r2"] = F(
        "argmax", unit="-",
        doc="argmax: predicted class = largest output; threshold: outputs and targets compared "
            "at 0.5 (parity); r2: coefficient of determination on the test set, floored at 0 "
            "(regression, the teacher data set).")
    target_accuracy: Fraction = F(0.9, unit="fraction", gt=0.0, le=1.0,
                                  doc="Test accuracy that counts as trained; 0.9 or '90 %'.")
    max_cycles: int = F(1_000_000, unit="cycles", ge=1, le=10**15,
                        doc="Cycle budget: the run stops here if the target is not reached.")
    max_steps: int | None = F(
        None, unit="steps", ge=1, le=10**15,
        doc="Step budget: the run also stops after this many steps (null = only the cycle "
            "budget); hwsim compare gives every chip the same number of steps this way.")
    compare_firmware: list[str] = F(
        default_factory=list, unit="-", max_length=100,
        doc="Firmware models (names or paths) that hwsim compare trains this scenario with, on "
            "the scenario's own chip, beside its own firmware (the baseline).")
    compare_chips: list[str] = F(
        default_factory=list, unit="-", max_length=100,
        doc="Chips (names or paths) that hwsim compare trains this scenario on, beside the "
            "scenario's own chip, which is the baseline of the comparison; CHIP+FIRMWARE runs "
            "that chip on its own firmware (e.g. pcm_hermes_like+mgd_pcm).")
    stop_at_target: bool = F(True, unit="-", doc="Stop the run at the first evaluation that reaches "
                                                 "the target (else run the whole budget).")
    observation: ObservationSpec = F(default_factory=lambda: ObservationSpec(), unit="-",
                                     doc="How the observer measures test accuracy on the chip.")
    seed: int = F(0, unit="-", ge=0, le=2**63 - 1, doc="Root of the run's seed tree.")
