"""reglib: the tested reference implementations behind *Regularization in Deep Learning*.

One module per technique family, mirroring the chapters:

==================  ===========================================  ========
module              what it holds                                chapter
==================  ===========================================  ========
``utils``           seeding, device choice                       all
``data``            offline loaders (MNIST-1D, digits, ...)      all
``metrics``         accuracy, calibration error, sparsity        all
``train``           the one ``fit`` loop and its ``History``     all
``plot``            the course's figure style                    all
``penalties``       L1, L2, elastic net, soft-thresholding       01-03
``linear``          ridge, lasso, elastic net in numpy           01-03
``constraints``     max-norm                                     04
``early_stopping``  ``EarlyStopping``                            05
``dropout``         dropout and its relatives                    06, 10
``normalization``   batch and layer normalization                07
``augment``         mixup, cutout, shifts                        08, 09
``losses``          label smoothing, cross-entropy               09
``optim``           SGD, Adam(W), SAM                            11
``check``           the exercise checkers                        exercises
==================  ===========================================  ========
"""

__version__ = "0.1.0"
