module.exports = () => require('./services').teardown();
