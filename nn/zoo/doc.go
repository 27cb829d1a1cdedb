// Package zoo is prunebench's model zoo: the architectures of the papers it
// reproduces (MLPs and LeNet-300-100, LeNet-5-Caffe, the Conv-2/4/6 networks
// of the lottery ticket paper, CIFAR VGGs and ResNets, and a residual MLP),
// registered by name and built as declarative nn.Arch values for any engine
// to run, e.g. zoo.Build("lenet5", zoo.Options{}). Register adds a model,
// Names lists them and DefaultInit gives a family's initializer.
package zoo
