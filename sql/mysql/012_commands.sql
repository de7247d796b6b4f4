-- Reserved for the durable command queue, which lands with its own branch.
DO 0;
